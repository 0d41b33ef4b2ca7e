// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title The balance half of EIP-1155 for the chain tests; anyone may mint.
contract TestMultiToken {
    mapping(uint256 => mapping(address => uint256)) private _balances;

    event TransferSingle(
        address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value
    );

    function balanceOf(address account, uint256 id) external view returns (uint256) {
        return _balances[id][account];
    }

    function mint(address to, uint256 id, uint256 value) external {
        _balances[id][to] += value;
        emit TransferSingle(msg.sender, address(0), to, id, value);
    }
}
