"""Datasets: the UCF101-24 / JHMDB-21 ground-truth format, AVA, synthetic action videos, sampling and targets."""
