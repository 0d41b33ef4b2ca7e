// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title The read side of the EIP-137 registry: node => resolver. Anyone may set a record.
contract TestEnsRegistry {
    mapping(bytes32 => address) public resolver;

    function setResolver(bytes32 node, address resolver_) external {
        resolver[node] = resolver_;
    }
}

/// @title A resolver answering EIP-137 addr(node) and EIP-181 name(node). Anyone may set them.
contract TestEnsResolver {
    mapping(bytes32 => address) public addr;
    mapping(bytes32 => string) public name;

    function setAddr(bytes32 node, address addr_) external {
        addr[node] = addr_;
    }

    function setName(bytes32 node, string calldata name_) external {
        name[node] = name_;
    }
}
