"""A tiny Flask app on its backing services (molecule/databases): /<service>/<value> writes a value
through PostgreSQL, Redis or memcached and reads it back; GET /<service> reads it."""
import os

import psycopg
import redis
from flask import Flask, jsonify
from pymemcache.client.hash import HashClient

app = Flask(__name__)


def pg():
    # DATABASE_URL: TCP on loopback, with sslmode=require when the server has TLS.
    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def cache():
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def key(name):
    # The app's Redis user may touch only keys that start with "<REDIS_KEY_PREFIX>:".
    return f"{os.environ['REDIS_KEY_PREFIX']}:{name}"


def memcached():
    # Django's PyMemcacheCache does the same with LOCATION = MEMCACHED_SERVERS.
    return HashClient(os.environ["MEMCACHED_SERVERS"].split(","), connect_timeout=5, timeout=5)


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.route("/postgresql", defaults={"value": None}, methods=["GET"])
@app.route("/postgresql/<value>", methods=["POST"])
def postgresql(value):
    with pg() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kv (value text)")
        if value:
            conn.execute("INSERT INTO kv VALUES (%s)", (value,))
        values = [row[0] for row in conn.execute("SELECT value FROM kv ORDER BY value")]
        ssl = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]
    return jsonify(values=values, ssl=ssl)


@app.route("/redis", defaults={"value": None}, methods=["GET"])
@app.route("/redis/<value>", methods=["POST"])
def redis_value(value):
    client = cache()
    if value:
        client.set(key("value"), value)
    return jsonify(value=(client.get(key("value")) or b"").decode())


@app.route("/memcached", defaults={"value": None}, methods=["GET"])
@app.route("/memcached/<value>", methods=["POST"])
def memcached_value(value):
    client = memcached()
    if value:
        client.set("value", value)
    return jsonify(value=(client.get("value") or b"").decode(), servers=os.environ["MEMCACHED_SERVERS"])
