from __future__ import annotations

import uuid

import pytest
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError


@pytest.fixture
def collection(settings):
    client = MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000)
    coll = client["integration_tests"][f"mongo_{uuid.uuid4().hex[:8]}"]
    yield coll
    coll.drop()
    client.close()


def test_insert_and_find(collection):
    collection.insert_many([{"Origin": "JFK", "Dest": "LAX", "n": i} for i in range(5)])
    assert collection.count_documents({"Origin": "JFK"}) == 5
    assert sorted(d["n"] for d in collection.find({"n": {"$gte": 3}})) == [3, 4]


def test_unique_index_rejects_duplicates(collection):
    collection.create_index("UUID", unique=True)
    collection.insert_one({"UUID": "a"})
    with pytest.raises(DuplicateKeyError):
        collection.insert_one({"UUID": "a"})


def test_upsert_is_idempotent(collection):
    collection.create_index("UUID", unique=True)
    for prediction in (1.0, 2.0, 2.0):
        collection.update_one({"UUID": "x"}, {"$set": {"Prediction": prediction}}, upsert=True)
    assert collection.count_documents({}) == 1
    assert collection.find_one({"UUID": "x"})["Prediction"] == 2.0
