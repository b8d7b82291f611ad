"""SQLite storage: device identities, resource time series, content blobs.

Credentials are stored as hashes only: tokens (40 random characters) as a
SHA-256 digest so a token can be looked up directly, passwords as salted
PBKDF2. Resource history is a time series keyed by (device, alias, ts_us), like
Murano's: writing the same timestamp again replaces that point.
"""

import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
import string
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    auth TEXT,
    cred_hash TEXT,
    cred_salt TEXT,
    whitelisted INTEGER NOT NULL DEFAULT 0,
    created_us INTEGER NOT NULL,
    provisioned_us INTEGER
);
CREATE INDEX IF NOT EXISTS devices_cred ON devices(cred_hash);
CREATE TABLE IF NOT EXISTS resources (
    device TEXT NOT NULL,
    alias TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (device, alias, ts_us)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS content (
    name TEXT PRIMARY KEY,
    mime TEXT NOT NULL,
    data BLOB NOT NULL,
    updated_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

TOKEN_ALPHABET = string.ascii_letters + string.digits
PBKDF2_ROUNDS = 20000


def now_us():
    return time.time_ns() // 1000


def new_token():
    """A 40-character token, the length Murano hands out."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(40))


def token_hash(token):
    return hashlib.sha256(("uedge-token:" + token).encode()).hexdigest()


def password_hash(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ROUNDS).hex()


class Store:
    def __init__(self, path):
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._last_ts = {}

    def close(self):
        self.db.close()

    # -- meta ---------------------------------------------------------------
    def meta_get(self, key, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def meta_set(self, key, value):
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- devices ------------------------------------------------------------
    def device(self, device_id):
        row = self.db.execute(
            "SELECT id, auth, cred_hash, cred_salt, whitelisted, created_us, provisioned_us"
            " FROM devices WHERE id=?",
            (device_id,),
        ).fetchone()
        if row is None:
            return None
        return {
            "id": row[0],
            "auth": row[1],
            "cred_hash": row[2],
            "cred_salt": row[3],
            "whitelisted": bool(row[4]),
            "created_us": row[5],
            "provisioned_us": row[6],
        }

    def devices(self):
        rows = self.db.execute(
            "SELECT id, auth, cred_hash IS NOT NULL, whitelisted, created_us, provisioned_us"
            " FROM devices ORDER BY id"
        ).fetchall()
        return [
            {
                "id": r[0],
                "auth": r[1],
                "provisioned": r[5] is not None,
                "whitelisted": bool(r[3]),
                "created_us": r[4],
                "provisioned_us": r[5],
            }
            for r in rows
        ]

    def whitelist(self, device_id):
        """Pre-register an identity (not provisioned yet). Idempotent."""
        if self.device(device_id) is None:
            self.db.execute(
                "INSERT INTO devices(id, whitelisted, created_us) VALUES (?, 1, ?)",
                (device_id, now_us()),
            )
        else:
            self.db.execute("UPDATE devices SET whitelisted=1 WHERE id=?", (device_id,))

    def is_provisioned(self, device_id):
        dev = self.device(device_id)
        return dev is not None and dev["provisioned_us"] is not None

    def provision(self, device_id, auth, credential=None):
        """Store a new identity (or fill a whitelisted one). Returns True on success,
        False when the identity is already provisioned."""
        dev = self.device(device_id)
        if dev is not None and dev["provisioned_us"] is not None:
            return False
        salt = None
        chash = None
        if auth == "token":
            chash = token_hash(credential)
        elif auth == "password":
            salt = secrets.token_hex(16)
            chash = password_hash(credential, salt)
        ts = now_us()
        if dev is None:
            self.db.execute(
                "INSERT INTO devices(id, auth, cred_hash, cred_salt, whitelisted, created_us,"
                " provisioned_us) VALUES (?, ?, ?, ?, 0, ?, ?)",
                (device_id, auth, chash, salt, ts, ts),
            )
        else:
            self.db.execute(
                "UPDATE devices SET auth=?, cred_hash=?, cred_salt=?, provisioned_us=? WHERE id=?",
                (auth, chash, salt, ts, device_id),
            )
        return True

    def reset(self, device_id):
        """Forget the credential so the identity can be provisioned again."""
        cur = self.db.execute(
            "UPDATE devices SET cred_hash=NULL, cred_salt=NULL, provisioned_us=NULL, auth=NULL"
            " WHERE id=?",
            (device_id,),
        )
        return cur.rowcount > 0

    def delete_device(self, device_id):
        self.db.execute("DELETE FROM resources WHERE device=?", (device_id,))
        cur = self.db.execute("DELETE FROM devices WHERE id=?", (device_id,))
        for key in [k for k in self._last_ts if k[0] == device_id]:
            del self._last_ts[key]
        return cur.rowcount > 0

    def device_for_token(self, token):
        row = self.db.execute(
            "SELECT id FROM devices WHERE cred_hash=? AND auth='token'", (token_hash(token),)
        ).fetchone()
        return row[0] if row else None

    def check_password(self, device_id, password):
        dev = self.device(device_id)
        if dev is None or dev["auth"] != "password" or not dev["cred_hash"]:
            return False
        return hmac.compare_digest(dev["cred_hash"], password_hash(password, dev["cred_salt"]))

    # -- resources ----------------------------------------------------------
    def _next_ts(self, device_id, alias, ts):
        key = (device_id, alias)
        last = self._last_ts.get(key)
        if last is None:
            row = self.db.execute(
                "SELECT max(ts_us) FROM resources WHERE device=? AND alias=?", key
            ).fetchone()
            last = row[0] or 0
        if ts <= last:
            ts = last + 1
        self._last_ts[key] = ts
        return ts

    def write(self, device_id, values, source, ts_us=None):
        """Store {alias: value} for a device. Without ts_us the values get the
        receive time (made unique per alias); with ts_us a point at that time is
        written (replacing one already there). Returns {alias: ts_us}."""
        out = {}
        base = now_us() if ts_us is None else int(ts_us)
        with self._transaction():
            for alias, value in values.items():
                ts = base if ts_us is not None else self._next_ts(device_id, alias, base)
                self._put(device_id, alias, ts, value, source)
                out[alias] = ts
        return out

    def write_many(self, device_id, records, source):
        """records: [(ts_us, {alias: value}), ...] stored in one transaction."""
        with self._transaction():
            for ts, values in records:
                for alias, value in values.items():
                    self._put(device_id, alias, int(ts), value, source)

    @contextlib.contextmanager
    def _transaction(self):
        self.db.execute("BEGIN")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _put(self, device_id, alias, ts, value, source):
        """One point (replacing one at the same time); a later ts moves the alias's last time on."""
        key = (device_id, alias)
        if key in self._last_ts and ts > self._last_ts[key]:
            self._last_ts[key] = ts
        self.db.execute(
            "INSERT OR REPLACE INTO resources(device, alias, ts_us, value, source)"
            " VALUES (?, ?, ?, ?, ?)",
            (device_id, alias, ts, value, source),
        )

    def latest(self, device_id, alias, source=None):
        if source is None:
            row = self.db.execute(
                "SELECT ts_us, value, source FROM resources WHERE device=? AND alias=?"
                " ORDER BY ts_us DESC LIMIT 1",
                (device_id, alias),
            ).fetchone()
        else:
            row = self.db.execute(
                "SELECT ts_us, value, source FROM resources WHERE device=? AND alias=?"
                " AND source=? ORDER BY ts_us DESC LIMIT 1",
                (device_id, alias, source),
            ).fetchone()
        return tuple(row) if row else None

    def has_point(self, device_id, alias, ts_us):
        return self.db.execute(
            "SELECT 1 FROM resources WHERE device=? AND alias=? AND ts_us=?",
            (device_id, alias, int(ts_us)),
        ).fetchone() is not None

    def history(self, device_id, alias, limit=None, since=None, until=None):
        """Points oldest first: [(ts_us, value, source)]. limit keeps the newest N."""
        sql = "SELECT ts_us, value, source FROM resources WHERE device=? AND alias=?"
        args = [device_id, alias]
        if since is not None:
            sql += " AND ts_us>=?"
            args.append(int(since))
        if until is not None:
            sql += " AND ts_us<=?"
            args.append(int(until))
        sql += " ORDER BY ts_us DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        rows = self.db.execute(sql, args).fetchall()
        rows.reverse()
        return [tuple(r) for r in rows]

    def aliases(self, device_id):
        rows = self.db.execute(
            "SELECT alias, max(ts_us) FROM resources WHERE device=? GROUP BY alias ORDER BY alias",
            (device_id,),
        ).fetchall()
        return [r[0] for r in rows]

    # -- content ------------------------------------------------------------
    def content_put(self, name, data, mime):
        self.db.execute(
            "INSERT OR REPLACE INTO content(name, mime, data, updated_us) VALUES (?, ?, ?, ?)",
            (name, mime, sqlite3.Binary(data), now_us()),
        )

    def content_list(self):
        rows = self.db.execute(
            "SELECT name, length(data), mime, updated_us FROM content ORDER BY name"
        ).fetchall()
        return [{"name": r[0], "length": r[1], "mime": r[2], "updated_us": r[3]} for r in rows]

    def content_info(self, name):
        row = self.db.execute(
            "SELECT name, length(data), mime, updated_us FROM content WHERE name=?", (name,)
        ).fetchone()
        if row is None:
            return None
        return {"name": row[0], "length": row[1], "mime": row[2], "updated_us": row[3]}

    def content_get(self, name):
        row = self.db.execute("SELECT mime, data FROM content WHERE name=?", (name,)).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def content_delete(self, name):
        return self.db.execute("DELETE FROM content WHERE name=?", (name,)).rowcount > 0

    # -- secrets ------------------------------------------------------------
    def url_secret(self):
        sec = self.meta_get("url_secret")
        if sec is None:
            sec = secrets.token_hex(32)
            self.meta_set("url_secret", sec)
        return sec


def ensure_dir(path):
    os.makedirs(path, exist_ok=True)
    return path
