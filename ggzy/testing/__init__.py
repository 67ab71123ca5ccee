"""Test support shared by the test suite and the benchmarks: real infrastructure
(Kafka, the store), running services, reading topics. Not used by the services.
"""
