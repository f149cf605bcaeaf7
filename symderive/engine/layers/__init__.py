"""Layer kinds beyond the dense layer, one module (a room) per kind.

- :mod:`.attention` and :mod:`.attention_local`: multi-head self-attention (a unit is a head);
- :mod:`.lstm` and :mod:`.lstm_local`: an LSTM layer (a unit is a hidden unit).
"""
