"""Bringing the board's network link up (a part of uedge_fw.net.Network,
loaded while the link comes up and released once it is up): activate the
wired or WiFi interface, try each configured access point in turn, wait for
an address and judge a failed attempt."""


def step(net, now):
    """One step while the link is down -> True once it is up."""
    if net.state == "down":
        if now >= net.next_ms:
            start(net, now)
        return False
    if net.state != "waiting":
        return False
    st = net._status()
    if net.iface.isconnected():
        net.up = True
        net.state = "up"
        net.failures = 0
        net.log("net: up, address %s" % net.iface.ifconfig()[0])
        return True
    n = net.network
    bad = (
        getattr(n, "STAT_WRONG_PASSWORD", None),
        getattr(n, "STAT_NO_AP_FOUND", None),
        getattr(n, "STAT_CONNECT_FAIL", None),
    )
    if (st in bad and st is not None) or now >= net.deadline:
        net.log("net: connect failed (status %s)" % status_name(n, st))
        try:
            net.iface.disconnect()
        except Exception:
            pass
        net._fail(now)
    return False


def start(net, now):
    """Activate an interface and start joining (wired first when the board has one)."""
    n = net.network
    eth = getattr(net.board, "ETHERNET", None)
    if eth and hasattr(n, "LAN"):
        try:
            net.iface = n.LAN(**eth) if isinstance(eth, dict) else n.LAN()
            net.iface.active(True)
            net.kind = "lan"
            net.log("net: wired interface active")
            net.state = "waiting"
            net.deadline = now + 15000
            return
        except Exception as e:
            net.log("net: wired interface failed (%s), trying WiFi" % e)
    if not net.aps:
        net.state = "no_config"
        net.log("net: no wifi configured in settings.json")
        return
    net.kind = "wlan"
    if net.iface is None:
        net.iface = n.WLAN(n.STA_IF)
    net.iface.active(True)
    ap = net.aps[net.ap_index % len(net.aps)]
    net.log("net: connecting to %s" % ap["ssid"])
    try:
        net.iface.connect(ap["ssid"], ap.get("password") or "")
    except OSError as e:
        net.log("net: connect failed: %s" % e)
        net._fail(now)
        return
    net.state = "waiting"
    net.deadline = now + 20000


def status_name(network, st):
    """The network module's STAT_ name of status st (else the number)."""
    for name in dir(network):
        if name.startswith("STAT_") and getattr(network, name) == st:
            return name
    return str(st)
