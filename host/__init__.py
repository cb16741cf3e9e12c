"""Host library: Device.open(url) over serial, the simulated board or the golden model.

Empty until the link issue lands; today the golden model (sim.GoldenModel) runs images directly.
"""
