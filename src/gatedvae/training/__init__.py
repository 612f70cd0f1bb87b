"""The shared training core: configs, gating, pair sampling, regularisers, nets, the loop, inference."""
