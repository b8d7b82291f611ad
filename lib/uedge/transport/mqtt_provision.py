"""Provisioning over MQTT ($provision/<id>), for uedge.transport.murano_mqtt.

MuranoMQTT.provision() imports this module only when the device has no
credential yet, and releases it afterwards: a board does not hold its
bytecode while it runs.
"""

from uedge.transport.link import AuthError, MuranoError, reason_of
from uedge.transport.net import MQTTAuthError, MQTTException


def random_password(n=32):
    """A random password for password auth (Murano asks for at least 20 characters)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    try:
        import os

        raw = os.urandom(n)
    except (ImportError, AttributeError):
        import random

        raw = bytes(random.getrandbits(8) for _ in range(n))
    return "".join(alphabet[b % len(alphabet)] for b in raw)


def provision(link, tmo):
    """Provision link.device_id (token or password auth), blocking up to tmo ms.
    Saves the credential through the link; raises AuthError/MuranoError."""
    topic = "$provision/" + link.device_id
    c = link._new_client(keepalive=0)
    try:
        c.connect()
    except MQTTAuthError:
        raise AuthError("not authorized: anonymous provisioning refused") from None
    except (MQTTException, OSError, ValueError) as e:
        raise MuranoError("provisioning connect failed: %s" % reason_of(e)) from None
    now = link._rt.now_ms
    try:
        if link.auth == "token":
            reply = []

            def on_msg(t, msg):
                if t.startswith(b"$provision/") and msg:
                    reply.append(msg.decode().strip())

            c.set_callback(on_msg)
            try:
                c.subscribe(topic)
            except MQTTException as e:
                raise MuranoError("cannot subscribe to %s: %s" % (topic, e)) from None
            c.publish(topic, b"")
            deadline = now() + tmo
            while not reply:
                left = deadline - now()
                if left <= 0:
                    raise MuranoError(
                        "no token on %s within %d ms (id already provisioned, "
                        "not whitelisted, or wrong auth type?)" % (topic, tmo)
                    )
                c.wait_msg(min(left, 200))
            secret = reply[0]
        else:
            secret = link._secret or link._password_wanted or random_password()
            c.publish(topic, secret)
            # a round trip proves the request was read and the link survived it
            c.ping()
            deadline = now() + tmo
            while c.ping_outstanding():
                if now() >= deadline:
                    raise MuranoError("no answer from the connector after provisioning")
                c.wait_msg(200)
    except (MQTTException, OSError) as e:
        raise MuranoError("provisioning failed: %s" % reason_of(e)) from None
    finally:
        c.disconnect()
    link._provisioned_with(secret)
    link._note("provisioned %s (%s auth)" % (link.device_id, link.auth))
    return True
