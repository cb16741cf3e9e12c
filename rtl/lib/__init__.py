"""Gateware primitives shared by the core and the link (no dependency on either).

    fifo             BufferedFIFO, ShiftFIFO, RxFIFO: the design's three FIFOs
    stream_register  StreamRegister: a one-beat register in a stream
    memory           the memory seam: SimpleMemory (EBR), SPRAM arrays, the memory factories
    compare          less_than / greater_than a constant, as logic
    dsp              MultiplyAdd: a * b + c registered, one SB_MAC16 on an iCE40
    ports            signatures of memory ports and of flows; the engines' helpers
    layout           pack / unpack of firmware.formats word layouts
"""
