"""The ILR service: each learner's Individualised Learner Record, versioned, changed by the rules."""
