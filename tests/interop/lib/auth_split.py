"""Split KEYDIR/{PK,KEK,db}.auth into the parts a verifier needs, in OUTDIR:
NAME.p7 (ContentInfo-wrapped PKCS#7, as openssl cms wants), NAME.signed (the buffer the
signature covers: name UTF-16LE, vendor GUID, attributes, EFI_TIME, payload), NAME.payload."""
import struct
import sys
import uuid

GLOBAL = uuid.UUID("8be4df61-93ca-11d2-aa0d-00e098032b8c").bytes_le
SECURITY_DB = uuid.UUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f").bytes_le
PKCS7_GUID = uuid.UUID("4aafd29d-68df-49ee-8aa9-347d375665a7").bytes_le


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def wrap_signed_data(sd):
    oid = bytes.fromhex("06092a864886f70d010702")  # 1.2.840.113549.1.7.2 signedData
    explicit = b"\xa0" + der_len(len(sd)) + sd
    body = oid + explicit
    return b"\x30" + der_len(len(body)) + body


def main(keydir, outdir):
    for name, vendor in (("PK", GLOBAL), ("KEK", GLOBAL), ("db", SECURITY_DB)):
        data = open(f"{keydir}/{name}.auth", "rb").read()
        efi_time = data[:16]
        dw_length, revision, cert_type = struct.unpack("<IHH", data[16:24])
        assert revision == 0x0200, f"{name}.auth: wRevision {revision:#x}"
        assert cert_type == 0x0EF1, f"{name}.auth: wCertificateType {cert_type:#x}"
        assert data[24:40] == PKCS7_GUID, f"{name}.auth: CertType is not EFI_CERT_TYPE_PKCS7_GUID"
        assert efi_time[7:] == bytes(9), f"{name}.auth: EFI_TIME pad/nanosecond/timezone not zero"
        pkcs7 = data[40:16 + dw_length]
        assert pkcs7[0] == 0x30, f"{name}.auth: CertData is not DER"
        payload = data[16 + dw_length:]
        signed = name.encode("utf-16-le") + vendor + struct.pack("<I", 0x27) + efi_time + payload
        open(f"{outdir}/{name}.p7", "wb").write(wrap_signed_data(pkcs7))
        open(f"{outdir}/{name}.signed", "wb").write(signed)
        open(f"{outdir}/{name}.payload", "wb").write(payload)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
