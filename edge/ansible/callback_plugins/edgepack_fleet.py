"""Ansible callback for `edgepack deploy --inventory`: hosts that never reached the role's record.

The role writes one record per host it finished (installed, unchanged, failed). A host it could
not reach (SSH refused, a wrong host key) or that failed outside the role's rescue leaves none;
this plugin appends one JSON line per such event to $EDGEPACK_FLEET_EVENTS so the fleet report
can say why. Enabled only by edgepack (ANSIBLE_CALLBACKS_ENABLED=edgepack_fleet).
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: edgepack_fleet
    type: aggregate
    short_description: per-host unreachable/failed events for edgepack's fleet report
    description: Appends JSON lines to the file named by EDGEPACK_FLEET_EVENTS.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "edgepack_fleet"
    CALLBACK_NEEDS_ENABLED = True

    def _event(self, kind: str, result) -> None:
        path = os.environ.get("EDGEPACK_FLEET_EVENTS")
        if not path:
            return
        res = result._result if isinstance(result._result, dict) else {}
        line = {"host": result._host.get_name(), "event": kind, "task": result._task.get_name(),
                "msg": str(res.get("msg") or res.get("stderr") or "")[-2000:], "ignored": False}
        with open(path, "a", encoding="utf-8") as f:  # one short line per append: no interleaving
            f.write(json.dumps(line) + "\n")

    def v2_runner_on_unreachable(self, result):
        self._event("unreachable", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._event("failed", result)
