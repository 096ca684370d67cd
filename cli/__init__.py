"""The mlmroi command line (installed as the ``mlmroi_cli`` package)."""
