"""What the test tiers and the benchmarks share: `creditmeter serve` as a process
(`server`), a free port (`ports`), a TCP proxy that can fail on purpose (`proxy`), and
throwaway stores (`stores`)."""
