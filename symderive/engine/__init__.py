"""The proof engine: from a validated spec to proved statuses, witnesses and verdicts.

- :mod:`.network`: the symbolic MLP (parameter symbols, z, a, δ per layer and sample);
- :mod:`.gradients`: dL/dθ, directly and by backpropagation deltas;
- :mod:`.local`: the local derivation around two units (the rest of the network opaque);
- :mod:`.generic`: generic mode (an undefined σ or ℓ) and its instantiation for numbers;
- :mod:`.residual`: the readable form of a difference of two gradients;
- :mod:`.witness` and :mod:`.mlp`: concrete values (NumPy) where a difference is non-zero;
- :mod:`.symmetry`: settles each group and the hypothesis's verdict.

Nothing here writes text for people or touches files.
"""

#: The variables OpenBLAS, MKL, BLIS, Accelerate and OpenMP read for their number of
#: threads when NumPy loads them (here, not in :mod:`.mlp`, so that the command line can
#: set them before anything imports NumPy).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS",
                         "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
