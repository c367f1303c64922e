"""Backend diagnostics: a report to attach to a bug report."""

from __future__ import annotations

from ..parameter_tables import parameter_table
from .base import UrbanSigAlgorithm, help_html
from .params import help_table

TABLE = parameter_table("diagnostics")


class BackendDiagnostics(UrbanSigAlgorithm):
    alg_id = "backenddiagnostics"
    title = "Backend diagnostics"
    group_name = "Setup"
    group_key = "setup"
    task = "diagnostics"
    table = TABLE
    help = help_html(
        "Writes a report of the backend: plugin and package versions, interpreter and paths, "
        "the device (GPU name and memory when there is one) and the timing of a small forward "
        "pass. Attach it to bug reports.",
        {"DEVICE": "device to test (auto picks CUDA when available)", **help_table(TABLE)[0]},
        help_table(TABLE)[1],
        example="qgis_process run urbansig:backenddiagnostics -- OUTPUT=diagnostics.html",
    )
