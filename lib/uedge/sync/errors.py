"""Where an error goes in data_in __error (ConfigSync._doc_error): loaded for
an error about a document and, on a board, released after."""

def error_keys(key, msg, config):
    """Where an error goes in data_in __error, which the Data IO Schema keys by
    channel id: a channel's own error under its id; an error about a whole
    document (config_io, config_applications, data_out) under the channel its
    message names ("... channel 002: ..."), else under every channel it
    concerns (data_out: the control channels; the others: all channels of the
    running config), so that a reader that looks up its channel ids finds it.
    Only with no channel to put it under does it keep the document's name."""
    if key not in ("config_io", "config_applications", "data_out"):  # config_sync.DOCUMENTS
        return [key]
    i = msg.find("channel ")
    if i >= 0:
        j = msg.find(":", i + 8)
        cid = msg[i + 8:j].strip() if j > 0 else ""
        if cid and " " not in cid and not cid.startswith('"') and not cid.startswith("__"):
            return [cid]
    if config is None or not config.order:
        return [key]
    keys = list(config.order)
    if key == "data_out":
        ctl = [c for c in keys if config.channels[c].control]
        if ctl:
            keys = ctl
    return keys
