// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title A minimal EIP-721 collection for the chain tests; anyone may mint.
contract TestNft {
    mapping(uint256 => address) private _owners;
    mapping(address => uint256) public balanceOf;

    // EIP-721: the same signature as EIP-20's Transfer, but tokenId is indexed (4 topics).
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    function ownerOf(uint256 tokenId) external view returns (address) {
        address owner = _owners[tokenId];
        require(owner != address(0), "no such token");
        return owner;
    }

    function mint(address to, uint256 tokenId) external {
        require(_owners[tokenId] == address(0), "minted");
        _owners[tokenId] = to;
        balanceOf[to] += 1;
        emit Transfer(address(0), to, tokenId);
    }

    function transferFrom(address from, address to, uint256 tokenId) external {
        require(_owners[tokenId] == from && from == msg.sender, "not owner");
        _owners[tokenId] = to;
        balanceOf[from] -= 1;
        balanceOf[to] += 1;
        emit Transfer(from, to, tokenId);
    }
}
