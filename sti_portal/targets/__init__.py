"""Policy-target extractor: quantitative STI targets and achieved figures in Chinese policy texts."""
