"""Quantum neural networks page: build circuits in the lab, or train a classifier with a quantum layer."""

from ui.page import technique_page

INTRO = """
A **qubit** holds two complex amplitudes instead of one bit; *n* qubits hold 2ⁿ of them, and measuring gives each
outcome with probability |amplitude|². Gates rotate qubits (RX, RY, RZ, H) or **entangle** them (CNOT). Pick
*circuit lab* to build a small circuit yourself: the default, a Hadamard then a CNOT, makes a Bell state, where the
two qubits always agree when measured.

A **quantum neural network** turns each input into rotation angles (the *embedding*), applies layers of trainable
rotations and CNOTs (the *ansatz*), and measures each qubit. Here that circuit is one layer of an ordinary PyTorch
model, trained by gradient descent like any network. Three choices make it learn reliably:
- **data re-uploading** feeds the inputs in again before every layer, so the circuit can draw curved boundaries;
- **input scaling** learns how strongly each input turns a qubit;
- **enough layers** (2 or more) for the shape of the data. Turn these off to see training stall.

A classical network with about as many trainable numbers learns the same split, so you can compare them fairly.
"""

technique_page("quantum", intro=INTRO)
