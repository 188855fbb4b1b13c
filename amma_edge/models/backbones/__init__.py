"""Image and video backbones in plain PyTorch, named so published torchvision / pytorchvideo weights load."""
