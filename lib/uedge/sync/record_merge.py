"""Merging data_in reports that fall in one record slot (the HTTP record API keeps
one value per second: two reports of the same second become one, the later
value of a channel wins). Imported only by a transport with coarse timestamps."""

import json


def merge_reports(a, b):
    try:
        da = json.loads(a)
        db = json.loads(b)
    except ValueError:
        return b
    if not isinstance(da, dict) or not isinstance(db, dict):
        return b
    ea = da.pop("__error", None)
    eb = db.pop("__error", None)
    for k in db:
        da[k] = db[k]
    if ea or eb:
        err = {}
        for e in (ea, eb):
            if isinstance(e, dict):
                for k in e:
                    err[k] = e[k]
        da["__error"] = err
    return json.dumps(da)
