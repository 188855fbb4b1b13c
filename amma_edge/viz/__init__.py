"""Pictures that let a person see what the model sees: micro-motion strips."""
