"""Flight delay prediction platform: batch training on Spark, streaming scoring from Kafka."""
