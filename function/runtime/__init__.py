"""The served model: the LiteRT interpreter, the verified version loaded at start-up, and
the Predictor interface every protocol calls."""
