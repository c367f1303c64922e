"""One package per method; each model has fit / transform / predict / save / load."""
