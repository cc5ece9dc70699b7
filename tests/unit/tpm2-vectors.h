/* tpm2-vectors.h — formats.md Appendix A test key (public, TEST ONLY) and a token written by
 * systemd-cryptenroll 252 with it (PCR 7 literal + signed PCR 11 + PIN, swtpm). */
#pragma once

#include "pcr-test-key.h" /* the Appendix A.1 key: test_priv_pem, test_pub_pem */

/* formats.md A.3: systemd-measure sign --bank=sha256 --phase=enter-initrd, test key. */
static const char a3_signature_json[] =
        "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"4176d001e459ff4e7736cc0e7f1ad6132a709b637ff6a0576e453f2a2b6dc291\","
        "\"pol\":\"08a8ce75567ea37895ff965b4ace93ef4f92899b093b932c9c322213e8abc5a6\",\"sig\":\"byr26w3jlBuO6ZsK4rH"
        "jqfKX6gK9aH6m0dhNz7n+TjpDhhP3QwDq2Xi+S49ECSULSo+qVTWEwyx1w8bgL1vnlfEGVoJ1bsvGjY3ZK5lpYjA2q8q3nY970CIxo"
        "MrWKAOzj6szV7wFS/+cxPVG4wtEWB8rpLvphiszaw9HKo8b61hMcmlVHebbQGvuUEWt2CLVeKC0/MPWF64PUv/Tq8JIzAN7S+BtIf"
        "Z+zfhKwB9EZsaNuEatS3IYw0ZPJkcqnPdvZFIcINfGoucvs98YIaBLvpQuAu1OiQURCwOf3odHfNxRFqmwnl5P3zX9pwc6aVlyVizj"
        "KH/rmT7ankaz2t8cCA==\"}]}\n";

static const char v252_token_json[] =
        "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AJ4AIGiZI0XgXjvCFQb65A2Exd5BYccRdwtlvjbG9E3"
        "q5JVRABBp/uwJlPO0D6O9vs9TV0Qt71ydiAoZXp+MXIVW5fFil1h5sAyjnNuEOvolKb7ZV1kT0z6gIKJV/0g3T4aa//ti2xP"
        "N8AWEH9X1TU2mdYxlylygCj4LX38Pt/fv62vo8n9brSqku3NsIFrEyJ/JVL6CfzcWrK51bxa9sQBOAAgACwAAABIAIE02WHh"
        "YwgQYdypQbAi+hmSX3mWPcToM7y0MOmIEgfhaABAAIO10z126qUmntvIX9Z/YGjXWzHh2IXbHRI7C3eJj73bB\",\"tpm2-pcr"
        "s\":[7],\"tpm2-pcr-bank\":\"sha256\",\"tpm2-primary-alg\":\"ecc\",\"tpm2-policy-hash\":\"4d36587858c20418772"
        "a506c08be866497de658f713a0cef2d0c3a620481f85a\",\"tpm2-pin\":true,\"tpm2_pubkey_pcrs\":[11],\"tpm2_pub"
        "key\":\"LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUlJQklqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQ0FROEFNSUlCQ2dLQ0"
        "FRRUFwWWtRcC9DRzhJcUxCTmFhRk5vMQplNWw4T21kYVIrWWN3RVJCb3YvZTlQYWZjaW5iU3ArVTNRV3JjdnZBT3VCeW1nYT"
        "EzaHpYL0RiNnNwSDlsN3NyCm50ZEdHZUVZV0RabURlOTQwSmRBVThkWUZDcVJ1aUNpMVZOb2tBalhSSFlCWGpBdFB1d0NYb3"
        "NoSmUvQ1BJWHUKeUEzdldZNGpQZW4vUzA5T1ZJRCtDcTRwcWcwZmZ1eHRTV3UyNUROT3NQMkgyZDhBa2hkdUViaDlZWkNSeU"
        "xuTwpDdy85czlrRWgvL3dKMUp0RGs2Qjc4bytuSzZONEhEamVyNTdVRVExYVB0dmV4V2tlZ2p2YTNBQ2dnSndTaU4zCk4xYW"
        "pObEpFaDFXZjVLYzFub3dmWEJJb3orSkZQT1BSUzZ5TUNBKzdtaDdPOW9rY2trVU04MWxGVDB3eGNpc1cKVFFJREFRQUIKLS"
        "0tLS1FTkQgUFVCTElDIEtFWS0tLS0tCg==\"}";
