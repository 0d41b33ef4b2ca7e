"""The checked-in build of contracts/ is what the code uses."""

from __future__ import annotations

import json

from chain.evm import BUILD
from roulette.chain._deployless import DEPLOYLESS_VALIDATOR


def test_the_embedded_validator_is_the_built_one() -> None:
    artifact = json.loads((BUILD / "Eip6492Validator.json").read_text())

    assert bytes.fromhex(artifact["bytecode"][2:]) == DEPLOYLESS_VALIDATOR


def test_every_contract_has_an_abi_and_bytecode() -> None:
    names = sorted(path.stem for path in BUILD.glob("*.json"))

    assert names == [
        "Eip6492Validator",
        "TestEnsRegistry",
        "TestEnsResolver",
        "TestMultiToken",
        "TestNft",
        "TestToken",
        "TestWallet",
        "TestWalletFactory",
    ]
    for name in names:
        artifact = json.loads((BUILD / f"{name}.json").read_text())
        assert artifact["abi"]
        assert len(artifact["bytecode"]) > 100
