"""Backend diagnostics: a report to attach to a bug report."""

from __future__ import annotations

from ..parameter_tables import parameter_table
from .base import UrbanSigAlgorithm
from .help_text import Help
from .params import help_table

TABLE = parameter_table("diagnostics")


class BackendDiagnostics(UrbanSigAlgorithm):
    alg_id = "backenddiagnostics"
    title = "Backend diagnostics"
    group_name = "Setup"
    group_key = "setup"
    task = "diagnostics"
    table = TABLE
    help = Help(
        "Writes a report of the backend: plugin and package versions, interpreter and paths, "
        "the device (GPU name and memory when there is one) and the timing of a small forward "
        "pass. Attach it to bug reports.",
        *help_table(TABLE),  # with DEVICE (the device tested) and SEED, as every model algorithm
        example="qgis_process run urbansig:backenddiagnostics -- OUTPUT=diagnostics.html",
    )
