"""Amaranth gateware of the core (neuron engine, router, plasticity, link).

Empty until the RTL issue lands; the contract it must equal is docs/spec.md and sim/.
"""
