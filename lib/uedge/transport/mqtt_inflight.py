"""QoS 1 in flight: the MQTT client's slots of unacknowledged publishes and
its packet ids (a part of MQTTClient; the slots are set up by its __init__)."""


class InFlight:
    def pending(self):
        """Number of QoS 1 publishes not yet acknowledged."""
        return self._inflight

    def pending_pids(self):
        return [p for p in self._if_pid if p]

    def forget_pending(self):
        for i in range(self._n_slots):
            self._if_pid[i] = 0
            self._if_topic[i] = None
            self._if_msg[i] = None
        self._inflight = 0

    def _next_pid(self):
        pid = self._pid
        while True:
            pid = pid + 1 if pid < 65535 else 1
            if pid not in self._if_pid:
                break
        self._pid = pid
        return pid

    def _free_slot(self):
        for i in range(self._n_slots):
            if not self._if_pid[i]:
                return i
        return -1

    def _acked(self, pid):
        for i in range(self._n_slots):
            if self._if_pid[i] == pid:
                self._if_pid[i] = 0
                self._if_topic[i] = None
                self._if_msg[i] = None
                self._inflight -= 1
                if self.on_puback:
                    self.on_puback(pid)
                return
