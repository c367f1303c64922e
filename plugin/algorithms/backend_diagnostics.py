"""Backend diagnostics: a report to attach to a bug report."""

from __future__ import annotations

from qgis.core import QgsProcessingParameterFileDestination

from .base import UrbanSigAlgorithm, help_html
from .params import HTML_FILTER


class BackendDiagnostics(UrbanSigAlgorithm):
    alg_id = "backenddiagnostics"
    title = "Backend diagnostics"
    group_name = "Setup"
    group_key = "setup"
    task = "diagnostics"
    help = help_html(
        "Writes a report of the backend: plugin and package versions, interpreter and paths, "
        "the device (GPU name and memory when there is one) and the timing of a small forward "
        "pass. Attach it to bug reports.",
        {"DEVICE": "device to test (auto picks CUDA when available)"},
        {"OUTPUT": "HTML report (opens in the Processing results viewer)"},
        example="qgis_process run urbansig:backenddiagnostics -- OUTPUT=diagnostics.html",
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802 - QGIS API
        self.add_device_and_seed()
        self.addParameter(
            QgsProcessingParameterFileDestination(
                "OUTPUT", self.tr("Diagnostics report"), HTML_FILTER
            )
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API
        output = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        self.run_backend({}, {}, {"output": output}, parameters, context, feedback)
        return {"OUTPUT": output}
