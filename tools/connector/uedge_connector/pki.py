"""A local certificate authority for the connector and its tests.

ensure_pki() makes (once, then reuses) a CA and a server certificate whose
subjectAltNames cover the loopback names, so clients can verify the server
with CA + hostname checks exactly as they would against a real connector.
Private keys are written 0600.
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTNAMES = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 825


def _write_key(path, key):
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _write_cert(path, cert):
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _load(cert_path, key_path):
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return cert, key


def _san(hostnames):
    names = []
    for h in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(names)


def _issue(subject_cn, issuer_cert, issuer_key, key, *, ca=False, server_names=None, client=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    issuer = issuer_cert.subject if issuer_cert is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server_names:
        builder = builder.add_extension(_san(server_names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def ensure_pki(directory, hostnames=DEFAULT_HOSTNAMES):
    """Create (or reuse) a local CA and a server certificate under directory.

    Returns a dict of PEM paths: ca_cert, ca_key, server_cert, server_key.
    A server certificate that does not cover every requested hostname is
    re-issued from the same CA.
    """
    os.makedirs(directory, exist_ok=True)
    paths = {
        "ca_cert": os.path.join(directory, "ca.pem"),
        "ca_key": os.path.join(directory, "ca.key"),
        "server_cert": os.path.join(directory, "server.pem"),
        "server_key": os.path.join(directory, "server.key"),
    }
    if os.path.exists(paths["ca_cert"]) and os.path.exists(paths["ca_key"]):
        ca_cert, ca_key = _load(paths["ca_cert"], paths["ca_key"])
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _issue("uedge local connector CA", None, ca_key, ca_key, ca=True)
        _write_key(paths["ca_key"], ca_key)
        _write_cert(paths["ca_cert"], ca_cert)

    need_server = True
    if os.path.exists(paths["server_cert"]) and os.path.exists(paths["server_key"]):
        cert, _ = _load(paths["server_cert"], paths["server_key"])
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            have = {str(v) for v in san.get_values_for_type(x509.DNSName)}
            have |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
            need_server = cert.issuer != ca_cert.subject or not set(hostnames) <= have
        except x509.ExtensionNotFound:
            need_server = True
    if need_server:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(hostnames[0], ca_cert, ca_key, key, server_names=hostnames)
        _write_key(paths["server_key"], key)
        _write_cert(paths["server_cert"], cert)
    return paths


def make_client_cert(directory, pki, common_name):
    """Issue a client certificate (CN = device identity) signed by the local CA.

    Returns (cert_path, key_path).
    """
    os.makedirs(directory, exist_ok=True)
    ca_cert, ca_key = _load(pki["ca_cert"], pki["ca_key"])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(common_name, ca_cert, ca_key, key, client=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in common_name)
    cert_path = os.path.join(directory, "client-%s.pem" % safe)
    key_path = os.path.join(directory, "client-%s.key" % safe)
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert_path, key_path
