"""What a provisioned device's PUBLISH means, topic by topic (Device MQTT API):
$resource/<alias>, $resource/ (several aliases), $resource.batch (historical
timestamps), $content, and custom topics. Mixed into the MQTT session."""

import json
import logging

from . import mqtt_codec as mc
from .hub import MAX_RESOURCE

LOG = logging.getLogger("uedge_connector.mqtt")


class Disconnect(Exception):
    """Close the connection; str() says why (logged)."""


class DeviceTopics:
    """Needs self.hub, self.device_id and self.send(bytes) from the session."""

    def device_publish(self, topic, payload):
        dev = self.device_id
        if topic.startswith("$resource/"):
            alias = topic[len("$resource/"):]
            if alias == "":
                values = self.parse_json(topic, payload, dict)
                if values is None:
                    return
                values = self.text_values(topic, values)
                if values is None:
                    return
                self.store_values(topic, values, None)
            elif "/" in alias:
                LOG.warning("%s: publish to %s dropped (alias may not contain '/')", dev, topic)
            else:
                if len(payload) > MAX_RESOURCE:
                    raise Disconnect("resource %s value of %d bytes exceeds %d"
                                     % (alias, len(payload), MAX_RESOURCE))
                self.store_values(topic, {alias: payload.decode("utf-8", "replace")}, None)
        elif topic == "$resource.batch":
            items = self.parse_json(topic, payload, list)
            if items is None:
                return
            records = []
            for i, item in enumerate(items):
                try:
                    ts = item["timestamp"]
                    values = item["values"]
                    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
                        raise TypeError("timestamp must be a number")
                    if not isinstance(values, dict):
                        raise TypeError("values must be an object")
                except (KeyError, TypeError) as e:
                    LOG.warning("%s: $resource.batch item %d dropped: %s", dev, i, e)
                    return
                values = self.text_values("%s item %d" % (topic, i), values)
                if values is None:
                    return
                records.append((int(ts), values))
            self.store_values(topic, None, records)
        elif topic == "$content":
            self.send(mc.publish("$content", self.hub.content_listing_json()))
        elif topic.startswith("$provision/"):
            LOG.info("%s: already authenticated; $provision publish ignored", dev)
        elif topic.startswith("$"):
            LOG.warning("%s: publish to unknown reserved topic %s dropped", dev, topic)
        else:
            self.hub.custom_message(dev, topic, payload)

    def parse_json(self, topic, payload, kind):
        try:
            obj = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            LOG.warning("%s: %s payload is not JSON (%s); dropped", self.device_id, topic, e)
            return None
        if not isinstance(obj, kind):
            LOG.warning("%s: %s payload must be a JSON %s; dropped", self.device_id, topic,
                        "object" if kind is dict else "array")
            return None
        return obj

    def text_values(self, where, values):
        """{alias: value} of a $resource/ or $resource.batch message -> {alias: str},
        or None (message dropped) when a value is not a string. The seed's examples
        give every value as a string ("data_in":"{\"001\":73.16492}"); storing other
        JSON as its text is the json_values extension."""
        if self.hub.ext("json_values"):
            return {k: as_text(v) for k, v in values.items()}
        for k, v in values.items():
            if not isinstance(v, str):
                LOG.warning("%s: %s dropped: value of %s is a JSON %s, not a string",
                            self.device_id, where, k, type(v).__name__)
                return None
        return values

    def store_values(self, topic, values, records):
        try:
            if records is None:
                self.hub.device_write(self.device_id, values)
            else:
                self.hub.device_record(self.device_id, records)
        except ValueError as e:
            if "exceeds" in str(e):
                raise Disconnect(str(e)) from None
            LOG.warning("%s: %s dropped: %s", self.device_id, topic, e)


def as_text(v):
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


