"""What the backend runs on: versions, paths, device, GPU memory, a forward-pass timing."""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from typing import Any

from urbansig import __version__

PACKAGES = (
    "torch",
    "numpy",
    "pandas",
    "pyarrow",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "h3",
    "sklearn",
    "gensim",
    "rasterio",
    "PIL",
    "matplotlib",
)


def package_versions() -> dict[str, str | None]:
    """Installed version of each backend dependency (None when missing)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = getattr(importlib.import_module(name), "__version__", "unknown")
        except Exception:  # noqa: BLE001 - a broken package is reported, not raised
            versions[name] = None
    return versions


def backend_info(device: str = "auto") -> dict[str, Any]:
    """Short summary for the provider's version string: versions and the chosen device."""
    import torch

    from urbansig.training import resolve_device

    chosen = resolve_device(device)
    info: dict[str, Any] = {
        "urbansig": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(chosen),
        "cuda_available": torch.cuda.is_available(),
    }
    if chosen.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(chosen)
    return info


def forward_timing(device_name: str = "auto", repeats: int = 20) -> dict[str, float]:
    """Median milliseconds of a small MLP forward pass (batch 256, width 512)."""
    import torch

    from urbansig.training import resolve_device

    device = resolve_device(device_name)
    model = torch.nn.Sequential(
        torch.nn.Linear(512, 512), torch.nn.GELU(), torch.nn.Linear(512, 512)
    ).to(device)
    x = torch.randn(256, 512, device=device)
    times = []
    with torch.no_grad():
        for _ in range(repeats + 3):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1000)
    times = sorted(times[3:])
    return {"median_ms": times[len(times) // 2], "min_ms": times[0]}


def full_report(device: str = "auto") -> dict[str, Any]:
    """Everything a bug report needs about the backend."""
    import torch

    report = backend_info(device)
    report.update(
        {
            "executable": sys.executable,
            "prefix": sys.prefix,
            "package_path": os.path.dirname(os.path.abspath(__file__)),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "packages": package_versions(),
            "forward_pass": forward_timing(device),
        }
    )
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        report["gpus"] = [
            {
                "name": torch.cuda.get_device_name(i),
                "capability": list(torch.cuda.get_device_capability(i)),
            }
            for i in range(torch.cuda.device_count())
        ]
        report["gpu_memory_gb"] = {"free": round(free / 1e9, 2), "total": round(total / 1e9, 2)}
        report["cuda_version"] = torch.version.cuda
    return report
