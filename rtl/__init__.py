"""Amaranth gateware of axonite; docs/rtl.md describes it, docs/spec.md is the contract it must
equal (sim/ its reference implementation).

    rtl.core   the core: neuron datapath and engine, router, plasticity, traces, tick control,
               inputs, access port, counters, and the Core that joins them (rtl.core.Core)
    rtl.link   the host link: UART, COBS, CRC, the link controller (rtl.link.Link) and the
               device top a board builds (rtl.link.DeviceTop)
    rtl.lib    primitives both use: FIFOs, a stream register, memories (the memory seam),
               comparisons with constants, the multiplier, port signatures, word layouts
"""
