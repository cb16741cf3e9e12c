"""The doctor's report: a Layer per layer checked (pass, warn, fail or skipped, with a summary,
a fix and details), the Report of them all (one verdict line, text, JSON for a bug report),
and LayerFailed, which a layer raises to fail."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import serial

from firmware import protocol as P

LAYERS = ("port", "hello", "link", "core", "freerun")
REPORT_VERSION = 1


@dataclass
class Layer:
    name: str
    status: str = "skipped"          # pass | warn | fail | skipped
    summary: str = ""
    fix: str | None = None
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        text = f"  {self.name:<8} {self.status:<7} {self.summary}"
        if self.fix:
            text += f"\n  {'':<8} {'fix:':<7} {self.fix}"
        return text

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "summary": self.summary, "fix": self.fix,
                "details": self.details, "seconds": round(self.seconds, 3)}


@dataclass
class Report:
    url: str
    layers: list[Layer]
    port: str | None = None
    device: dict | None = None
    started: float = field(default_factory=time.time)
    seconds: float = 0.0

    @property
    def failed(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.status == "fail"), None)

    @property
    def passed(self) -> bool:
        return self.failed is None and all(layer.status in ("pass", "warn") for layer in self.layers)

    @property
    def verdict(self) -> str:
        where = self.port or self.url
        failed = self.failed
        if failed is not None:
            return f"FAIL at {failed.name}: {where}: {failed.summary}"
        warned = [layer.name for layer in self.layers if layer.status == "warn"]
        what = (self.device or {}).get("summary", "")
        note = f" (remarks: {', '.join(warned)})" if warned else ""
        return f"PASS: {where}{': ' + what if what else ''}; {', '.join(LAYERS)} pass{note}"

    def text(self) -> str:
        return "\n".join([f"axonite doctor {self.url}", *(layer.line() for layer in self.layers),
                          self.verdict])

    def to_dict(self) -> dict:
        from importlib import metadata
        try:
            version = metadata.version("axonite")
        except metadata.PackageNotFoundError:
            version = None
        failed = self.failed
        return {"axonite_doctor": REPORT_VERSION,
                "verdict": "pass" if self.passed else "fail",
                "failed_layer": failed.name if failed else None,
                "line": self.verdict, "url": self.url, "port": self.port, "device": self.device,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
                "seconds": round(self.seconds, 3),
                "host": {"platform": platform.platform(), "python": platform.python_version(),
                         "axonite": version, "protocol_version": P.PROTOCOL_VERSION,
                         "pyserial": serial.VERSION},
                "layers": [layer.to_dict() for layer in self.layers]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_jsonable)


def _jsonable(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if hasattr(value, "name"):
        return value.name
    return str(value)


class LayerFailed(Exception):
    def __init__(self, summary: str, fix: str | None = None, **details):
        super().__init__(summary)
        self.summary, self.fix, self.details = summary, fix, details
