// SPDX-License-Identifier: CC0-1.0
pragma solidity ^0.8.20;

interface IERC1271 {
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4);
}

/// @title A deployless signature validator (EIP-6492 "off-chain validation").
/// @notice Never deployed: its creation code plus abi.encode(signer, hash, signature) is sent
/// as an eth_call without a `to`. The constructor returns one byte, 0x01 when the signature is
/// valid and 0x00 otherwise. Since eth_call discards state, the factory call that deploys a
/// counterfactual wallet leaves no trace.
contract Eip6492Validator {
    // EIP-6492: a wrapped signature ends with these 32 bytes.
    bytes32 private constant SUFFIX = 0x6492649264926492649264926492649264926492649264926492649264926492;
    // EIP-1271: the magic value of a valid signature.
    bytes4 private constant MAGIC_VALUE = 0x1626ba7e;

    constructor(address signer, bytes32 hash, bytes memory signature) {
        bool valid = _isValid(signer, hash, signature);
        assembly {
            mstore(0, valid)
            return(31, 1)
        }
    }

    function _isValid(address signer, bytes32 hash, bytes memory signature) private returns (bool) {
        bytes memory inner = signature;
        if (_isWrapped(signature)) {
            address factory;
            bytes memory factoryCall;
            (factory, factoryCall, inner) = abi.decode(_unwrapped(signature), (address, bytes, bytes));
            // EIP-6492: deploy first only when there is no code yet; a deployed wallet is
            // asked directly (its keys may have rotated since the wrapper was made).
            if (signer.code.length == 0) {
                (bool deployed, ) = factory.call(factoryCall);
                if (!deployed) return false;
            }
        }
        if (signer.code.length > 0) {
            try IERC1271(signer).isValidSignature(hash, inner) returns (bytes4 magic) {
                return magic == MAGIC_VALUE;
            } catch {
                return false;
            }
        }
        return _recovers(signer, hash, inner);
    }

    function _isWrapped(bytes memory signature) private pure returns (bool) {
        if (signature.length < 32) return false;
        bytes32 tail;
        assembly {
            tail := mload(add(signature, mload(signature)))
        }
        return tail == SUFFIX;
    }

    function _unwrapped(bytes memory signature) private pure returns (bytes memory body) {
        body = new bytes(signature.length - 32);
        for (uint256 i = 0; i < body.length; i++) body[i] = signature[i];
    }

    function _recovers(address signer, bytes32 hash, bytes memory signature) private pure returns (bool) {
        if (signature.length != 65) return false;
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(signature, 32))
            s := mload(add(signature, 64))
            v := byte(0, mload(add(signature, 96)))
        }
        address recovered = ecrecover(hash, v, r, s);
        return recovered != address(0) && recovered == signer;
    }
}
