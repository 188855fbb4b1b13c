"""amma-edge: lightweight spatio-temporal action detectors from the workstation to an embedded GPU."""

__version__ = "0.1.0"
