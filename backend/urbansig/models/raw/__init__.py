"""RAW (Regions are Who Walk Them): a GPT-like trajectory transformer, users and regions."""

METHOD = "raw"
MODEL_VERSION = 1
