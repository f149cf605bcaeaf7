RATE = 1e11 / 30
PASS_PER_PARAMETER = FORWARD_PER_PARAMETER = DRAW = WITNESS_DRAW = COPY = ARRAY_CALL = 0
OPTIMIZER = {"sgd": 1, "momentum": 1, "adam": 1}
def element_cost(spec): return 0
def layer_overhead(spec, backward=False): return 0
