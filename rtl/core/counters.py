"""The event counters of spec §7: 64 bits each, their high parts in one block RAM.

Each counter is a small low part in flip-flops, which counts by itself, and the rest of its 64
bits in `WORD`-bit words of one memory (word j of counter k at address k * words + j holds bits
WORD*j .. WORD*j + WORD-1; word 0's bits below the low part are unused). A sequencer reads one
word per cycle, in address order round and round, and writes it back the next cycle: word 0 gets
its counter's pending carry (a wrap of the low part since the last turn), each further word the
carry out of the word before. A low part cannot wrap twice in one turn (`low_bits`), so one
pending-carry flag per counter is enough.

A read (`read` high with `index`, until the value is delivered) waits for the sequencer to reach
word 0 of that counter and then delivers the value word by word as the sequencer writes the
words back: `word` with `word_en` (one-hot: which word) in `words` consecutive cycles, the
last with `ready`. The words are those of one instant: the cycle in which word 0 takes the
pending carry, whose low part fills word 0's low bits. A read takes at most
`len(counters) * words + words` cycles.

`clear` zeroes every counter: the low parts at once, the memory in the following turn (while
it is written with zeros, reads see zeros). A turn of zeros also follows power-on.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Elaboratable, Module, Mux, Signal

from ..lib.memory import SimpleMemory

WORD = 16


class Counters(Elaboratable):
    def __init__(self, n_counters: int, bits: int = 64, increment_bits: int = 2):
        assert bits % WORD == 0 and (bits // WORD) & (bits // WORD - 1) == 0, bits
        self.n, self.bits, self.words = n_counters, bits, bits // WORD
        self.slots = self.n * self.words
        # Between two visits of a counter's word 0 (one turn: `slots` cycles) the low part
        # counts at most max_increment * slots, which must not wrap it twice.
        max_increment = (1 << increment_bits) - 1
        self.low_bits = (max_increment * self.slots).bit_length()
        assert max_increment * self.slots < 1 << self.low_bits and self.low_bits <= WORD
        self.increments = [Signal(increment_bits, name=f"increment_{k}") for k in range(n_counters)]
        self.clear = Signal()
        self.read = Signal()
        self.index = Signal(range(max(2, n_counters)))
        self.word = Signal(WORD)
        self.word_en = Signal(self.words)
        self.ready = Signal()
        self.storage = SimpleMemory(WORD, self.slots)

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = storage = self.storage
        L, words = self.low_bits, self.words
        lows = [Signal(L, name=f"low_{k}") for k in range(self.n)]
        pending = Signal(self.n)                 # a wrap of the low part not yet in word 0

        # The sequencer: `slot` is the word whose read data is there this cycle; it is
        # written back this cycle, and the next one read.
        slot = Signal(range(self.slots))
        following = Signal.like(slot)
        m.d.comb += following.eq(Mux(slot == self.slots - 1, 0, slot + 1))
        m.d.sync += slot.eq(following)
        word_bits = words.bit_length() - 1
        j, k = slot[:word_bits], slot[word_bits:]
        first = (j == 0) if words > 1 else 1
        chain = Signal()                          # carry out of the word before
        zeroing = Signal(range(self.slots + 1), init=self.slots)   # words left to zero
        clearing = zeroing != 0
        carry_in = Mux(first, pending.bit_select(k, 1), chain)
        operand = Mux(first, storage.read.data | ((1 << L) - 1), storage.read.data)
        total = Signal(WORD + 1)
        m.d.comb += total.eq(operand + carry_in)
        result = Mux(clearing, 0, total[:WORD])
        m.d.comb += [storage.read.addr.eq(following),
                     storage.write.addr.eq(slot), storage.write.data.eq(result), storage.write.en.eq(1)]
        m.d.sync += chain.eq(total[WORD] & ~clearing)
        with m.If(clearing):
            m.d.sync += zeroing.eq(zeroing - 1)

        # Low parts and pending carries; word 0 of counter k takes (clears) pending[k].
        for c in range(self.n):
            low_total = lows[c] + self.increments[c]
            taken = first & (k == c)
            m.d.sync += [lows[c].eq(low_total[:L]),
                         pending[c].eq(low_total[L] | (pending[c] & ~taken))]

        # Reads: from word 0 of the counter on, one word per cycle.
        capturing = Signal()
        start = self.read & first & (k == self.index) & ~self.clear
        with m.If(start):
            m.d.sync += capturing.eq(words > 1)
        with m.Elif(capturing & (j == words - 1)):
            m.d.sync += capturing.eq(0)
        delivering = start | capturing
        m.d.comb += [self.word.eq(Mux(first, Cat(Array(lows)[self.index], result[L:]), result)),
                     self.word_en.eq(Cat(delivering & (j == w) for w in range(words))),
                     self.ready.eq(delivering & (j == words - 1))]

        with m.If(self.clear):
            m.d.sync += [low.eq(0) for low in lows]
            m.d.sync += [pending.eq(0), zeroing.eq(self.slots), capturing.eq(0), chain.eq(0)]
        return m
