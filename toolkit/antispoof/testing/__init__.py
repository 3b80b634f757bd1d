"""What the test suite and the benchmark scripts of a source checkout share (as numpy.testing
does for numpy): where the checkout and ``../shared`` keep data and weights, the installed
command run as a user runs it, small real datasets made from NUAA, and real servers on
127.0.0.1 (``loopback``). Nothing else in the package imports it."""
