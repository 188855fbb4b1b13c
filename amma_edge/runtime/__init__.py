"""What runs on the device every clip: decoding the head's maps into tubelets, linking them into action
tubes, and the box-overlap kernels both rely on. Each kernel is a pure NumPy function of arrays, so the C
extension can be tested against it."""
