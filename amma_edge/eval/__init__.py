"""Accuracy as the action-detection literature reports it: frame-mAP, video-mAP and ACT's frame-level error
breakdown, each behind a `protocol` that fixes the matching and AP rules so numbers compare with published
ones. The detections come from the same decode and linking code the device runs (`amma_edge.runtime`)."""
