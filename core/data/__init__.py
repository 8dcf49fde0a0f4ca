"""Reading labelled files into LabeledTexts, splitting and cleaning them (no model needed)."""
