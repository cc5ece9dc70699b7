/* tests/unit/pcr-test-key.h — the Appendix A.1 test key of formats.md (public, TEST ONLY), and the
 * Appendix A.3 policy systemd-measure 252 signed with it. */
#pragma once

static const char test_priv_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCliRCn8IbwiosE\n"
        "1poU2jV7mXw6Z1pH5hzAREGi/9709p9yKdtKn5TdBaty+8A64HKaBrXeHNf8Nvqy\n"
        "kf2Xuyue10YZ4RhYNmYN73jQl0BTx1gUKpG6IKLVU2iQCNdEdgFeMC0+7AJeiyEl\n"
        "78I8he7IDe9ZjiM96f9LT05UgP4KrimqDR9+7G1Ja7bkM06w/YfZ3wCSF24RuH1h\n"
        "kJHIuc4LD/2z2QSH//AnUm0OToHvyj6cro3gcON6vntQRDVo+297FaR6CO9rcAKC\n"
        "AnBKI3c3VqM2UkSHVZ/kpzWejB9cEijP4kU849FLrIwID7uaHs72iRySRQzzWUVP\n"
        "TDFyKxZNAgMBAAECggEAGuGTuVnnZ9dvtOTul5VJ2xz1HfzbndJh99z9ta0MdUY5\n"
        "ZU4jxM3+XBgIG/+C22zIX3fYf826S0RYWLg5cLLd5gj6Ysh5bhXDY97wBRuSwCge\n"
        "hwPUr1+OYcsOL1moL39kQHndVxr3VYgNZX42UiLDwGv24tmgonTF1uJ1i2Z5Gp2j\n"
        "3S1JwgWNaOrVSyOiIsuHmA+Y53pW/hqE4cFv0oC+ky8GKiCnNZsI3jJBbygQ9VO7\n"
        "5kUzPyTr//GV+f//dZdboGXc67FfVGY4eKX+j/nk5urcIwPHsdrd+jW0vmGlyqyT\n"
        "iM0fSgg+i8BSRhDQeUyguwTZ5hXlmwk5iggMEoO89wKBgQDPPgPyjcii/yZTFe6f\n"
        "iCdXszUe5jEcM+NdguaRGcGX9bQxWsa1VJVmGHrFqL0ZfOFIcu+euBviU0ufkmkL\n"
        "QEZGKPQrSHTK7X9MsVpHHieQw2ylfaZ7EdKiPANoFxfYM+lqTgeSEfc3k2MuuIRf\n"
        "jdL/6JVKJXGA9U29XeNru34qGwKBgQDMexcd4Fq1ULlNrR96MXffgZKuirXsP+oZ\n"
        "sXU/0OKDIbhgKMAbZ8C9PYqOW658tI/oB+w9jg3xraJ20aQ8uhjyPezbyq2zLTx5\n"
        "FKK+VZ+U/BefBZZZbxmEEszK9xgAMDh4hgxMTpJ6eSJ61Avk0bV91LmNS0NiNhia\n"
        "U5XrjMDHtwKBgHXRYdkhNfFEcPtHOrPDaep33TlF0KGh9h6RbpcLN342l0x/uPwZ\n"
        "rB2wyQtaFLdKwaC4hvWK4X9Xr2R2jfVxgwIcAkQhGxTK1FY7dYF86S1pjHjA6EaL\n"
        "KV5GFAG3Lz0gthBTcAZg5FTaG8bR65+PN2d5SHYwt0iDLMD9gW8b1mwFAoGBAIVr\n"
        "w3ehDk7Eb0R5s9I9OORDXXw50d5nDc7Z9ZFAMKwzcmR78m1vU1mnMCMXO1DvV/6k\n"
        "PMclS3/oNduliq59Fw3ozgXTx2bkG1M93bqnj8rcemUudh3A2jtNMQc2Fxj4XcB2\n"
        "ZsvbcMQtCgxvE5uoIe4KwU+qTjtk5MS9yVK6socdAoGALhpINlKFeVjqzsu77cyc\n"
        "7fRq/U2OO0eDs832e9udBKITEU2Bco8AE/V5tcu69qkKtnjCMU1dh4N/O2MK2NLf\n"
        "0vqui8D6F/PHvTptyNiEwgN7a0qdCIOLNUrwegP0lVCxCoNi2oImNL5+d9TpPcf/\n"
        "WAdo7GqG9N3OT+xRWo+x9L8=\n"
        "-----END PRIVATE KEY-----\n";

/* Exactly the 451 bytes of test-pub.pem, the .pcrpkey of the A.2 vector. */
static const char test_pub_pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApYkQp/CG8IqLBNaaFNo1\n"
        "e5l8OmdaR+YcwERBov/e9PafcinbSp+U3QWrcvvAOuBymga13hzX/Db6spH9l7sr\n"
        "ntdGGeEYWDZmDe940JdAU8dYFCqRuiCi1VNokAjXRHYBXjAtPuwCXoshJe/CPIXu\n"
        "yA3vWY4jPen/S09OVID+Cq4pqg0ffuxtSWu25DNOsP2H2d8AkhduEbh9YZCRyLnO\n"
        "Cw/9s9kEh//wJ1JtDk6B78o+nK6N4HDjer57UEQ1aPtvexWkegjva3ACggJwSiN3\n"
        "N1ajNlJEh1Wf5Kc1nowfXBIoz+JFPOPRS6yMCA+7mh7O9okckkUM81lFT0wxcisW\n"
        "TQIDAQAB\n"
        "-----END PUBLIC KEY-----\n";

/* Appendix A.3: systemd-measure 252 sign --bank=sha256 --phase=enter-initrd with test_priv_pem over
 * the A.2 inputs (pcrpkey = test_pub_pem), --json=short without its newline. */
static const char test_a3_sign_json[] =
        "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"4176d001e459ff4e7736cc0e7f1ad6132a709b637ff6a0576e453f2a2b6dc291\","
        "\"pol\":\"08a8ce75567ea37895ff965b4ace93ef4f92899b093b932c9c322213e8abc5a6\",\"sig\":\"byr26w3jlBuO6Z"
        "sK4rHjqfKX6gK9aH6m0dhNz7n+TjpDhhP3QwDq2Xi+S49ECSULSo+qVTWEwyx1w8bgL1vnlfEGVoJ1bsvGjY3ZK5lpYjA2q8q3nY970"
        "CIxoMrWKAOzj6szV7wFS/+cxPVG4wtEWB8rpLvphiszaw9HKo8b61hMcmlVHebbQGvuUEWt2CLVeKC0/MPWF64PUv/Tq8JIzAN7S+Bt"
        "IfZ+zfhKwB9EZsaNuEatS3IYw0ZPJkcqnPdvZFIcINfGoucvs98YIaBLvpQuAu1OiQURCwOf3odHfNxRFqmwnl5P3zX9pwc6aVlyV"
        "izjKH/rmT7ankaz2t8cCA==\"}]}";
