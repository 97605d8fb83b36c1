"""Open311 API keys: issued by an admin command, stored only as a hash in intake's `api_keys`.

    pengaduan apikeys issue --name <client>    # prints the new key, once
    pengaduan apikeys revoke --name <client>
    pengaduan apikeys list

(`python -m services.intake.apikeys …` does the same.)

The database is intake's (`INTAKE_MONGO_URI`, `INTAKE_MONGO_DB`, as the service reads them); the
keys' storage is services/intake/adapters/apikeys.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.intake.adapters.apikeys import clients, ensure_indexes, issue, revoke


async def main(argv: list[str], prog: str = "python -m services.intake.apikeys") -> int:
    from services.intake.settings import IntakeSettings
    from shared.mongo import mongo_client

    parser = argparse.ArgumentParser(prog=prog, description="Open311 API keys")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("issue", help="issue a new key and print it").add_argument("--name", required=True)
    commands.add_parser("revoke", help="revoke every key of a client").add_argument("--name", required=True)
    commands.add_parser("list", help="list clients and their keys' state (never the keys)")
    args = parser.parse_args(argv)

    settings = IntakeSettings()
    client = mongo_client(settings.mongo_uri)
    try:
        db = client[settings.mongo_db]
        if args.command == "issue":
            await ensure_indexes(db)
            print(await issue(db, args.name))
        elif args.command == "revoke":
            count = await revoke(db, args.name)
            print(f"{count} key(s) revoked", file=sys.stderr)
            return 0 if count else 1
        else:
            async for doc in clients(db):
                state = "active" if doc.get("active") else "revoked"
                print(f"{doc['name']}\t{state}\t{doc['created_at'].isoformat()}")
    finally:
        await client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
