"""The recipe: baseline, finetune the body, fit the head, evaluate; losses and metrics."""
