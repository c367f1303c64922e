"""Parameters of ``diagnostics`` (the backend diagnostics report)."""

from urbansig.parameters import HTML_FILTER, Parameter

PARAMETERS = (
    Parameter(
        "OUTPUT",
        "Diagnostics report",
        "file_out",
        help="HTML report (.html, opens in the Processing results viewer) or JSON (.json)",
        file_filter=HTML_FILTER,
    ),
)
